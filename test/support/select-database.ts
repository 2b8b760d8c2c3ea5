// Where the test suite's PostgreSQL comes from (DESIGN §5), as a pure decision so it has its own test.

export type DatabaseSource =
  | { kind: "env"; url: string }
  | { kind: "docker" }
  | { kind: "embedded" };

export interface DatabaseProbe {
  /** process.env.DATABASE_URL */
  databaseUrl: string | undefined;
  /** Whether a Docker engine answers. Only asked when DATABASE_URL is unset. */
  dockerAnswers: () => Promise<boolean>;
}

/** DATABASE_URL when set; else a Docker engine if one answers; else an embedded PostgreSQL. */
export async function selectDatabase(probe: DatabaseProbe): Promise<DatabaseSource> {
  const url = probe.databaseUrl?.trim();
  if (url) return { kind: "env", url };
  if (await probe.dockerAnswers().catch(() => false)) return { kind: "docker" };
  return { kind: "embedded" };
}

/** Hides the password of a connection string, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparseable connection string>";
  }
}
