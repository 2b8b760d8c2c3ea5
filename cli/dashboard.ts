import { createServer, type IncomingMessage } from "node:http";
import { timingSafeEqual } from "node:crypto";
import type { Argv, CommandModule } from "yargs";
import { createDashboard } from "../dashboard/index.js";
import { connectionOptions, requireMigrated, resolveTarget, withDatabase, type ConnectionArgs } from "./connection.js";
import { UsageError } from "./errors.js";
import { out } from "./output.js";
import { untilSignal } from "./signals.js";

interface DashboardArgs extends ConnectionArgs {
  port: number;
  host: string;
  basePath: string;
  readOnly?: boolean;
  basicAuth?: string;
}

export const dashboardCommand: CommandModule<object, DashboardArgs> = {
  command: "dashboard",
  describe: "Serve the web dashboard (bound to 127.0.0.1 unless --host says otherwise)",
  builder: (y: Argv) =>
    connectionOptions(y)
      .option("port", { type: "number", default: 4100, describe: "port to listen on" })
      .option("host", { type: "string", default: "127.0.0.1", describe: "address to bind; 0.0.0.0 exposes it to the network" })
      .option("base-path", { type: "string", default: "/", describe: "URL prefix, behind a reverse proxy" })
      .option("read-only", { type: "boolean", describe: "show no action and refuse every change" })
      .option("basic-auth", { type: "string", describe: "user:password required by the browser (default: $SIDETRACK_DASHBOARD_AUTH)" })
      .example("$0 dashboard", "http://127.0.0.1:4100/")
      .example("SIDETRACK_DASHBOARD_AUTH=ops:s3cret $0 dashboard --host 0.0.0.0 --read-only", "for a team, behind TLS") as unknown as Argv<DashboardArgs>,
  handler: async (args) => {
    if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${args.port}`);
    const auth = args.basicAuth ?? process.env.SIDETRACK_DASHBOARD_AUTH;
    if (auth !== undefined && !/^[^:]+:.+$/.test(auth)) {
      throw new UsageError("--basic-auth must be user:password (neither part empty)", "or set SIDETRACK_DASHBOARD_AUTH=user:password");
    }
    const target = resolveTarget(args);
    await withDatabase(target, async (pool) => {
      await requireMigrated(pool, target.schema);
      const dashboard = createDashboard({ pool, schema: target.schema, readOnly: args.readOnly === true, basePath: args.basePath });
      const expected = auth === undefined ? undefined : Buffer.from(`Basic ${Buffer.from(auth).toString("base64")}`);
      const server = createServer((req, res) => {
        if (expected && !authorized(req, expected)) {
          res.writeHead(401, { "www-authenticate": 'Basic realm="sidetrack", charset="UTF-8"', "content-type": "text/plain" });
          res.end("authentication required\n");
          return;
        }
        dashboard(req, res);
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(args.port, args.host, () => resolve());
      });
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : args.port;
      const host = args.host.includes(":") ? `[${args.host}]` : args.host;
      const base = args.basePath.replace(/\/+$/, "");
      out(`sidetrack dashboard on http://${host}:${port}${base}/ · schema "${target.schema}"${args.readOnly ? " · read-only" : ""}${expected ? " · basic auth" : ""}`);
      const stop = untilSignal();
      await stop.promise;
      stop.dispose();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
  },
};

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const sent = Buffer.from(String(req.headers.authorization ?? ""));
  return sent.length === expected.length && timingSafeEqual(sent, expected);
}
