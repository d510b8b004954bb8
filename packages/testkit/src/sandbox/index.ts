// The local Lambda sandbox's public surface (re-exported by src/index.ts).
export {};
