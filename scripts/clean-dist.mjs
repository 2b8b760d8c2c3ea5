// Removes dist/ before a build, so a file whose source was deleted or renamed is never packed.
import { rmSync } from "node:fs";

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
