import { Platform } from '../../src/common/ids';
import type { BridgeModule } from '../../src/ports';
import { generateAppserviceRegistration } from '../../registration/generate-appservice-registration';
import { readMatrixTokens, tokensPath } from '../../registration/matrix-tokens';
import { type MatrixConfig, matrixConfigSection } from './matrix.config';
import { MatrixBridge } from './matrix.bridge';

/**
 * The Matrix bridge builds itself from the `matrix` section: the appservice registration comes
 * from the same generator `mimi-gateway generate-registration` uses, with the tokens that command
 * wrote (`matrix.tokensFile`), so the homeserver's copy and ours cannot drift.
 * @throws ConfigError when the tokens file is missing (generate-registration has not run)
 */
export const matrixBridgeModule: BridgeModule<MatrixConfig> = {
  config: matrixConfigSection,
  create(matrix, gateway) {
    const tokens = readMatrixTokens(tokensPath(matrix.tokensFile, gateway.baseDir));
    return new MatrixBridge({
      matrix,
      registration: generateAppserviceRegistration(matrix, tokens),
      // Native Matrix users are MIMI users of this provider (identity mapping, ARCHITECTURE §4).
      mentions: {
        userUriOf: (mxid) => gateway.identity.userUriOf(Platform.Matrix, mxid),
        mxidOf: (uri) => {
          const parsed = gateway.identity.legacyUserOf(uri);
          return parsed?.platform === Platform.Matrix && parsed.domain === gateway.providerDomain
            ? parsed.userId
            : undefined;
        },
      },
    });
  },
};
