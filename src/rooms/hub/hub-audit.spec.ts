import type { LoggerService } from '@nestjs/common';
import type { ProviderDomain, RoomUri, UserUri } from '../../common/ids';
import type { inspectMlsMessage } from '../../mls';
import { auditRefusal, claimedMember } from './hub-audit';

type Header = ReturnType<typeof inspectMlsMessage>;

describe('hub refusal audit', () => {
  it('logs one warning naming the endpoint, the peer, the room, the claimed sender and the reason', () => {
    const logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() } as unknown as LoggerService;
    auditRefusal(logger, {
      endpoint: 'submitMessage',
      peer: 'b.example' as ProviderDomain,
      roomUri: 'mimi://a.example/r/x' as RoomUri,
      claimedSender: 'mimi://c.example/u/mallory',
      reason: 'b.example may not send for mimi://c.example/u/mallory',
    });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn).toHaveBeenCalledWith({
      audit: 'hub-refusal',
      endpoint: 'submitMessage',
      peer: 'b.example',
      roomUri: 'mimi://a.example/r/x',
      claimedSender: 'mimi://c.example/u/mallory',
      reason: 'b.example may not send for mimi://c.example/u/mallory',
    });
    expect(logger.debug).not.toHaveBeenCalled();
  });

  it('names the user of the leaf a member-sent message claims, and nobody otherwise', () => {
    const members = [
      { leafIndex: 0, user: 'mimi://a.example/u/bot' as UserUri, signatureKey: new Uint8Array(), local: true },
      { leafIndex: 3, user: 'mimi://b.example/u/bob' as UserUri, signatureKey: new Uint8Array(), local: false },
    ];
    const header = (sender?: Header['sender']): Header => ({ wireFormat: 'mls_public_message', sender }) as Header;
    expect(claimedMember(header({ type: 'member', leafIndex: 3 }), members)).toBe('mimi://b.example/u/bob');
    expect(claimedMember(header({ type: 'member', leafIndex: 7 }), members)).toBeUndefined();
    expect(claimedMember(header({ type: 'new_member_commit' }), members)).toBeUndefined();
    expect(claimedMember(header(undefined), members)).toBeUndefined();
  });
});
