/**
 * mls-extensions-09 §"Updating Application Data in the GroupContext": applying a commit's
 * AppDataUpdate proposals to the `app_data_dictionary` GroupContext extension.
 */
import { mlsFail } from '../errors';
import {
  AppDataUpdateOperation,
  appDataDictionaryExtension,
  findExtension,
  setExtension,
  type AppDataUpdate,
  type ComponentData,
  type Extension,
} from '../structs';

/**
 * The application logic of a component: from the current data (undefined if none) and the
 * `update` payloads in commit order, the new data, or undefined to declare the update invalid.
 * The default (`replaceWithLast`) stores the last payload.
 */
export type AppDataMerge = (
  componentId: number,
  current: Uint8Array | undefined,
  updates: readonly Uint8Array[],
) => Uint8Array | undefined;

const replaceWithLast: AppDataMerge = (_id, _current, updates) => updates[updates.length - 1];

/** The data of one component in `extensions`' app_data_dictionary, or undefined. */
export function appDataComponent(extensions: readonly Extension[], componentId: number): Uint8Array | undefined {
  return findExtension(extensions, appDataDictionaryExtension)?.componentData.find((c) => c.componentId === componentId)
    ?.data;
}

/**
 * New GroupContext extensions after `updates` (in commit order) and the component ids changed.
 * A missing dictionary is appended at the end of the list (the draft's rule); an emptied one is
 * kept (as an empty dictionary).
 */
export function applyAppDataUpdates(
  extensions: readonly Extension[],
  updates: readonly AppDataUpdate[],
  merge: AppDataMerge = replaceWithLast,
): { extensions: Extension[]; changed: number[] } {
  if (updates.length === 0) return { extensions: [...extensions], changed: [] };
  const dict = findExtension(extensions, appDataDictionaryExtension);
  const entries = new Map<number, Uint8Array>((dict?.componentData ?? []).map((c) => [c.componentId, c.data]));
  const byComponent = new Map<number, AppDataUpdate[]>();
  for (const u of updates) byComponent.set(u.componentId, [...(byComponent.get(u.componentId) ?? []), u]);
  for (const [id, list] of byComponent) {
    if (list.length === 1 && list[0]!.op === AppDataUpdateOperation.remove) {
      if (!entries.delete(id)) mlsFail('invalid', `AppDataUpdate removes absent component ${id}`);
      continue;
    }
    const payloads = list.map((u) =>
      u.op === AppDataUpdateOperation.update
        ? u.update
        : mlsFail('invalid', `AppDataUpdate remove mixed with updates on ${id}`),
    );
    const next = merge(id, entries.get(id), payloads);
    if (next === undefined) mlsFail('invalid', `AppDataUpdate for component ${id} refused by the application`);
    entries.set(id, next);
  }
  const componentData: ComponentData[] = [...entries]
    .sort(([a], [b]) => a - b)
    .map(([componentId, data]) => ({ componentId, data }));
  return {
    extensions: setExtension(extensions, appDataDictionaryExtension, { componentData }),
    changed: [...byComponent.keys()].sort((a, b) => a - b),
  };
}
