/**
 * The few ts-mls 1.6.4 functions that its root entry point does not re-export (raw struct codecs,
 * KeyPackageRef, error classes). ts-mls publishes them under the `ts-mls/<file>.js` subpath export,
 * but this project's TypeScript setting (`moduleResolution: node10`, implied by `module: commonjs`)
 * cannot resolve subpath exports. So the types come from the physical `.d.ts` path and the values
 * from a plain `require` of the public subpath, which Node 20 (require of ESM) and jest resolve.
 * Keep this the only file that reaches into ts-mls internals.
 */
import type * as RatchetTreeModule from 'ts-mls/dist/src/ratchetTree';
import type * as KeyPackageModule from 'ts-mls/dist/src/keyPackage';
import type * as WelcomeModule from 'ts-mls/dist/src/welcome';
import type * as GroupInfoModule from 'ts-mls/dist/src/groupInfo';
import type * as MlsErrorModule from 'ts-mls/dist/src/mlsError';
import type * as PrivateMessageModule from 'ts-mls/dist/src/privateMessage';

/* eslint-disable @typescript-eslint/no-require-imports */
const ratchetTree = require('ts-mls/ratchetTree.js') as typeof RatchetTreeModule;
const keyPackage = require('ts-mls/keyPackage.js') as typeof KeyPackageModule;
const welcome = require('ts-mls/welcome.js') as typeof WelcomeModule;
const groupInfo = require('ts-mls/groupInfo.js') as typeof GroupInfoModule;
const mlsError = require('ts-mls/mlsError.js') as typeof MlsErrorModule;
const privateMessage = require('ts-mls/privateMessage.js') as typeof PrivateMessageModule;
/* eslint-enable @typescript-eslint/no-require-imports */

export const { encodeRatchetTree, decodeRatchetTree } = ratchetTree;
export const { encodeKeyPackage, decodeKeyPackage, makeKeyPackageRef } = keyPackage;
export const { encodeWelcome, decodeWelcome } = welcome;
export const { encodeGroupInfo, decodeGroupInfo } = groupInfo;
/** Decrypts a PrivateMessage's sender data (leaf index, generation) with an epoch's sender_data_secret. */
export const { decryptSenderData } = privateMessage;
/** Base class of every error ts-mls throws. */
export const TsMlsError = mlsError.MlsError;
