import { IsBoolean, IsIn } from 'class-validator';

/**
 * protocol-06 §5.7 consent policy (`consent:` in the config): how `/requestConsent` for one of
 * our users is answered (by an `/updateConsent` to the requester's provider).
 */
export class ConsentConfig {
  /**
   * Grant at once when the request names a room linked here (hubbed or mirrored) in which the
   * requester is a participant that is not banned.
   */
  @IsBoolean({ message: 'true or false' })
  autoGrantLinkedRooms: boolean = true;

  /**
   * Any other request: `ask` the user through the bridge's bot (bridges that cannot ask leave it
   * unanswered), or `deny` it at once (a revoke).
   */
  @IsIn(['ask', 'deny'], { message: "one of 'ask' or 'deny'" })
  otherwise: 'ask' | 'deny' = 'ask';
}
