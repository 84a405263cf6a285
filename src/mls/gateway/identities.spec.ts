import type { UserUri } from '../../common/ids';
import { cipherSuiteById } from '../core/crypto';
import { InMemoryMlsStorage } from '../mls-storage';
import { Identities } from './identities';

const user = (n: number): UserUri => `mimi://a.example/u/puppet-${n}` as UserUri;

describe('Identities: an LRU of identities over storage', () => {
  const suite = cipherSuiteById(1); /* MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, the gateway's */

  it('keeps at most maxCached in memory, the least recently used out first, and reads the rest back unchanged', async () => {
    const storage = new InMemoryMlsStorage();
    const ids = new Identities(storage, suite, Date.now, { maxCached: 3 });
    const made = [];
    for (let n = 0; n < 5; n++) made.push(await ids.getOrCreate(user(n)));
    expect(ids.cachedCount).toBe(3);

    await ids.get(user(2)); // used again: now the most recent
    await ids.getOrCreate(user(5)); // evicts user 3, not user 2
    const reads = jest.spyOn(storage, 'get');
    expect(await ids.get(user(2))).toBe(made[2]);
    expect(reads).not.toHaveBeenCalled();

    const back = await ids.get(user(0));
    expect(reads).toHaveBeenCalledTimes(1);
    expect(back).not.toBe(made[0]);
    expect(back).toMatchObject({
      user: user(0),
      signatureKey: made[0]!.signatureKey,
      signaturePrivateKey: made[0]!.signaturePrivateKey,
    });
    expect(await ids.getOrCreate(user(3))).toMatchObject({ signatureKey: made[3]!.signatureKey });
    expect(ids.cachedCount).toBe(3);
  });
});
