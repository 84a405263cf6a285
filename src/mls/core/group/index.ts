/** The MLS group state machine for a gateway: see README.md. */
export * from './types';
export { appDataComponent } from './app-data';
export { createGroup } from './create';
export {
  propose,
  proposalMessage,
  proposeUpdate,
  externalProposalMessage,
  processProposal,
  acceptProposal,
  type ReceivedProposal,
} from './proposals';
export { createCommit, type CreateCommitOptions, type CreatedCommit } from './commit';
export { processCommit, applyCommitContent, type ProcessedCommit } from './process-commit';
export { joinFromWelcome, addLocalMemberFromWelcome, checkJoinerKeys, type JoinerKeys } from './join';
export { joinByExternalCommit, type ExternalCommitOptions } from './external';
export { epochKeys, protect, unprotect } from './messages';
export { exportSecret, epochAuthenticator, groupInfo } from './epoch';
