// Public API of the sealed audit store. See docs/audit.md for the format and guarantees.
export {
  type Checkpoint,
  CheckpointError,
  type CheckpointKeys,
  type CheckpointLocations,
  externalCheckpointPath,
  localCheckpointPath,
  readCheckpoint,
  readLatestCheckpoint,
  type SignedCheckpoint,
  verifyCheckpoint,
} from './checkpoint.ts';
export {
  type Actor,
  AUDIT_EVENT_TYPES,
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  auditEventSchema,
  parseAuditEvent,
  type TaskRef,
} from './events.ts';
export {
  AuditKey,
  type GeneratedKey,
  generateKey,
  type Jwks,
  KeyError,
  type KeyFile,
  Keyring,
  keyFileSchema,
  loadKeyring,
  loadPublicKeyring,
  type PublicJwk,
  type PublicKey,
  PublicKeyring,
  publicJwks,
} from './keys.ts';
export { lockPath } from './lock.ts';
export {
  AuditOpenError,
  type AuditOpenErrorCode,
  MAX_BATCH_BYTES,
  type Recovery,
  type StoreLocations,
} from './open-log.ts';
export { type AuditRecord, exportRecords, recordToJsonLine, type TailResult, tailRecords } from './read.ts';
export type { Problem, ProblemCode, ScanKeys } from './scan.ts';
export {
  type AuditLogger,
  type AuditSink,
  AuditSinkError,
  type AuditSinkErrorCode,
  FileAuditSink,
  type FileAuditSinkOptions,
  MAX_EVENT_BYTES,
  MemoryAuditSink,
  openAuditSink,
  type UnwrittenEvents,
} from './sink.ts';
export {
  type VerifyLevel,
  type VerifyOptions,
  type VerifyReport,
  type VerifySummary,
  verifyLog,
} from './verify.ts';
