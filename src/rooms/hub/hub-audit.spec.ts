import type { LoggerService } from '@nestjs/common';
import type { ProviderDomain, RoomUri } from '../../common/ids';
import { auditRefusal } from './hub-audit';

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
});
