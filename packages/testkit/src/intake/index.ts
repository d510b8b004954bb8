// The fake Datadog intake's public surface (re-exported by src/index.ts).
export {};
