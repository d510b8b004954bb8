// The fake Datadog intake's public surface (re-exported by src/index.ts).
export {
  AGENT_SKETCH_BIAS,
  AGENT_SKETCH_BIN_LIMIT,
  AGENT_SKETCH_EPS,
  AGENT_SKETCH_GAMMA,
  AGENT_SKETCH_GAMMA_LN,
  AGENT_SKETCH_MAX_KEY,
  AGENT_SKETCH_NORM_MIN,
  agentSketchKey,
  agentSketchLowerBound,
  agentSketchQuantile,
} from './agent-sketch.js';
export {
  INTAKE_USAGE,
  type IntakeCommandIo,
  intakeOptionsFromArgs,
  runIntakeCommand,
} from './command.js';
export type { FaultAction, FaultHandle, FaultMatch, FaultSpec, PathMatcher } from './faults.js';
export {
  DatadogIntake,
  DEFAULT_INTAKE_API_KEY,
  formatRequest,
  type IntakeOptions,
  type Logger as IntakeLogger,
  redactApiKey,
  startIntake,
  type WaitOptions,
} from './intake.js';
export { decodeMessage, type FieldSpec, type MessageSchema, ProtobufError, ProtoReader } from './protobuf.js';
export { DEFAULT_LIMITS, INTAKE_PATHS, type PayloadLimit } from './routes.js';
export * as intakeSchemas from './schemas.js';
export { DATADOG_SITES, parseDestination, siteUrls } from './sites.js';
export { makeTestCertificate, type TestCertificate } from './tls-cert.js';
export type * from './types.js';
