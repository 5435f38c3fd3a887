/**
 * Session recording: the streamable format, the spool recorder the SSH service
 * records through, the uploader that moves spool files to Auth, and playback.
 * Import this folder only through this file (or the events folder's index.ts).
 */
export {
  type EndReason,
  encodeEvent,
  encodeHeader,
  headerFor,
  MAX_LINE_BYTES,
  MAX_OUTPUT_EVENT_BYTES,
  OutputDecoder,
  type ParserOptions,
  parseEventLine,
  parseHeaderLine,
  parseRecording,
  RECORDING_VERSION,
  type RecordingEvent,
  type RecordingHeader,
  type RecordingItem,
  RecordingParser,
  type RecordingSessionMeta,
  secondsSince,
} from "./format.ts";
export {
  type PlayOptions,
  type PlayResult,
  play,
  type RecordingJson,
  type RecordingSummary,
  summarizeRecording,
  summary,
  toJsonEvents,
} from "./player.ts";
export {
  createSpoolRecorderFactory,
  type RecorderFactory,
  SESSION_ID_PATTERN,
  type SessionRecorder,
  type SpoolListener,
  type SpoolRecorderOptions,
} from "./recorder.ts";
export { type RecordingLog, type SealedSpool, sealSpoolFile } from "./spool.ts";
export {
  metadataFromHeader,
  type RecordingMetadata,
  type RecordingPart,
  RecordingUploader,
  type RecordingUploaderOptions,
} from "./uploader.ts";
