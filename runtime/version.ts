/** This release of Sidetrack, as workers record it in the registry (kept equal to package.json by a test). */
export const SIDETRACK_VERSION = "0.1.0";
