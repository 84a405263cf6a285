/** What other folders may use from src/replication (STYLE §1). */
export { ReplicationModule } from './replication.module';
export { OutboxService } from './outbox.service';
