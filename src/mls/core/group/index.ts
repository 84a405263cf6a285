/** The MLS group state machine for a gateway: see README.md. */
export * from './types';
export { applyAppDataUpdates, appDataComponent, replaceWithLast, type AppDataMerge } from './app-data';
export { createGroup, type CreateGroupInput } from './create';
export {
  propose,
  proposalMessage,
  proposeUpdate,
  externalProposalMessage,
  processProposal,
  acceptProposal,
  cacheProposal,
  findCachedProposal,
  type ProposalMessage,
  type ReceivedProposal,
} from './proposals';
export { createCommit, type CreateCommitOptions, type CreatedCommit } from './commit';
export { processCommit, applyCommitContent, type ProcessCommitOptions, type ProcessedCommit } from './process-commit';
export {
  joinFromWelcome,
  addLocalMemberFromWelcome,
  checkJoinerKeys,
  type JoinerKeys,
  type JoinOptions,
  type Joined,
} from './join';
export { joinByExternalCommit, type ExternalJoiner, type ExternalCommitOptions } from './external';
export { epochKeys, protect, unprotect, type ProtectOptions, type Unprotected } from './messages';
export { exportSecret, epochAuthenticator, groupInfo, type GroupInfoOptions } from './epoch';
export { pathRequired, validateProposalList } from './proposal-list';
