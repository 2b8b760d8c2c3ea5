// Shared by the generator tests: throwaway project folders inside the repo (so `pg`, `@types/pg` and
// the runtime resolve from its node_modules), and a tsc runner whose "sidetrack" is runtime/index.ts.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll } from "vitest";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const fixturesDir = path.join(repoRoot, "test/fixtures/generator");
const execFileAsync = promisify(execFile);

/** A fresh folder under .tmp/ (gitignored), with `fixture`'s files copied in; removed after the file's tests. */
export function tempProject(fixture?: string): string {
  const dir = path.join(repoRoot, ".tmp", `generator-${randomBytes(5).toString("hex")}`);
  fs.mkdirSync(dir, { recursive: true });
  if (fixture) fs.cpSync(path.join(fixturesDir, fixture), dir, { recursive: true });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a tsconfig mapping "sidetrack" to the runtime's source, then runs the repo's tsc on `dir`. */
export async function typecheck(dir: string): Promise<{ code: number; output: string }> {
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2023"],
      types: ["node"],
      strict: true,
      noUncheckedIndexedAccess: true,
      noUnusedLocals: true,
      skipLibCheck: true,
      noEmit: true,
      baseUrl: ".",
      paths: {
        sidetrack: [path.relative(dir, path.join(repoRoot, "runtime/index.ts"))],
        "sidetrack/prisma": [path.relative(dir, path.join(repoRoot, "runtime/prisma.ts"))],
        "sidetrack/generated": [path.relative(dir, path.join(repoRoot, "runtime/generated.ts"))],
      },
    },
    include: ["**/*.ts"],
  };
  fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
  try {
    const { stdout } = await execFileAsync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-p", dir, "--pretty", "false"], { cwd: dir });
    return { code: 0, output: stdout };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: `${e.stdout}${e.stderr}` };
  }
}

/** Every `file(line,col): error TSxxxx: …` of tsc output. */
export function tscErrors(output: string): { file: string; line: number; code: string; message: string }[] {
  return [...output.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)].map((m) => ({
    file: path.basename(m[1]!),
    line: Number(m[2]),
    code: m[3]!,
    message: m[4]!,
  }));
}
