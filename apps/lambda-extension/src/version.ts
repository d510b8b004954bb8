// Our version, for the `dd_extension_version` tag and the start-up line. Kept in step with
// package.json by the package test.
export const VERSION = '0.1.0';
