/**
 * Which group a Welcome is for, before choosing between a full join (a group the gateway does
 * not hold) and registering one more local member into a held group (no tree validation again).
 * The same first steps as the core's `joinFromWelcome` (open our GroupSecrets, derive the welcome
 * secret, decrypt the GroupInfo); nothing is trusted from it but the group id used as a lookup key.
 */
import { encodeValue } from '../../codec/tls-codec';
import { cipherSuiteById, makeKeyPackageRef } from '../core/crypto';
import type { JoinerKeys } from '../core/group';
import { epochSecretsFromJoiner } from '../core/key-schedule';
import { computePskSecret } from '../core/psk';
import { keyPackageCodec, type Welcome } from '../core/structs';
import { decryptGroupInfo, openWelcome } from '../core/welcome';

/** The group id the Welcome's GroupInfo names, or undefined when it needs PSKs (take the full join). */
export function welcomeGroupId(welcome: Welcome, keys: JoinerKeys): Uint8Array | undefined {
  const suite = cipherSuiteById(welcome.cipherSuite);
  const ref = makeKeyPackageRef(suite, encodeValue(keys.keyPackage, keyPackageCodec));
  const secrets = openWelcome(suite, welcome, ref, keys.initPrivateKey);
  if (secrets.psks.length > 0) return undefined;
  const { welcomeSecret } = epochSecretsFromJoiner(
    suite,
    secrets.joinerSecret,
    new Uint8Array(0),
    computePskSecret(suite, []),
  );
  return decryptGroupInfo(suite, welcomeSecret, welcome.encryptedGroupInfo).groupContext.groupId;
}
