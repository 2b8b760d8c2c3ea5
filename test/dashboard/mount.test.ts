// The dashboard mounted under a prefix in Express 5, Fastify 5, Hono (node adapter) and plain
// node:http: links, assets and a CSRF-protected form action all work under the prefix, the
// host application's own routes keep working beside it, and the application closes while a
// client holds a connection it never sent a request on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { serve as honoServe, type HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDashboard } from "../../dashboard/index.js";
import { runMigrations } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { browserAvailable, launchBrowser, screenshot, type Browser } from "./browser.js";

const PREFIX = "/admin/jobs";
const run = browserAvailable();

interface Mounted {
  url: string;
  server: Server;
  close(): Promise<void>;
}

function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

async function listen(server: Server): Promise<void> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
}

const mounts: Record<string, (pool: TestDatabase["pool"]) => Promise<Mounted>> = {
  // Express strips the prefix and sets req.baseUrl: the dashboard finds its prefix alone.
  async express(pool) {
    const app = express();
    app.get("/health", (_req, res) => void res.send("app ok"));
    app.use(PREFIX, createDashboard({ pool }));
    const server = createServer(app);
    await listen(server);
    return { url: `http://127.0.0.1:${portOf(server)}`, server, close: () => closeServer(server) };
  },
  async fastify(pool) {
    // Chromium opens spare connections it may never send a request on. Node's server.close(),
    // which Fastify's default ("idle") relies on, ends only connections between requests, so
    // close would wait until the browser drops a spare one, which can take minutes; with true,
    // close ends every connection, as closeServer does for the other mounts.
    const app = Fastify({ forceCloseConnections: true });
    const dashboard = createDashboard({ pool, basePath: PREFIX });
    app.get("/health", async () => "app ok");
    // Before Fastify reads the body: the dashboard reads its own.
    app.addHook("onRequest", (request, reply, done) => {
      if (request.url === PREFIX || request.url.startsWith(`${PREFIX}/`) || request.url.startsWith(`${PREFIX}?`)) {
        reply.hijack();
        dashboard(request.raw, reply.raw);
        return;
      }
      done();
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    return { url: `http://127.0.0.1:${portOf(app.server)}`, server: app.server, close: () => app.close() };
  },
  async hono(pool) {
    const app = new Hono<{ Bindings: HttpBindings }>();
    const dashboard = createDashboard({ pool, basePath: PREFIX });
    app.get("/health", (c) => c.text("app ok"));
    const mount = (c: { env: HttpBindings }) => {
      dashboard(c.env.incoming, c.env.outgoing as ServerResponse);
      return RESPONSE_ALREADY_SENT;
    };
    app.all(PREFIX, mount);
    app.all(`${PREFIX}/*`, mount);
    const server = await new Promise<Server>((resolve) => {
      const s = honoServe({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s as Server)) as Server;
    });
    return { url: `http://127.0.0.1:${portOf(server)}`, server, close: () => closeServer(server) };
  },
  async "node:http"(pool) {
    const dashboard = createDashboard({ pool, basePath: PREFIX });
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === "/health") return void res.end("app ok");
      // With next: requests the dashboard does not know fall through to the application.
      dashboard(req, res, () => {
        res.writeHead(404).end("app 404");
      });
    });
    await listen(server);
    return { url: `http://127.0.0.1:${portOf(server)}`, server, close: () => closeServer(server) };
  },
};

describe.runIf(run)("mounted under a prefix", () => {
  let db: TestDatabase;
  let browser: Browser;

  beforeAll(async () => {
    db = await createTestDatabase("dashboard_mount");
    await runMigrations({ pool: db.pool });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each(Object.keys(mounts))("%s", async (name) => {
    const { rows } = await db.pool.query<{ id: string }>(
      `insert into sidetrack.jobs (queue, payload, status, attempt, max_attempts, finalized_at, failed_at, errors)
       values ($1, '{}', 'failed', 1, 1, now(), now(), '[{"attempt":1,"message":"boom","stack":"Error: boom","at":"2026-01-01T00:00:00Z"}]')
       returning id::text as id`,
      [`mounted_${name.replace(":", "_")}`],
    );
    const id = rows[0]!.id;
    const mounted = await mounts[name]!(db.pool);
    let spare: Socket | undefined;
    try {
      expect(await (await fetch(`${mounted.url}/health`)).text()).toBe("app ok");
      const asset = await fetch(`${mounted.url}${PREFIX}/assets/app.js`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("content-type")).toContain("javascript");

      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${mounted.url}${PREFIX}/`);
      expect(await page.title()).toBe("Overview · Sidetrack");
      await page.getByRole("navigation", { name: "Dashboard" }).getByRole("link", { name: "Jobs" }).click();
      await page.waitForURL(`${mounted.url}${PREFIX}/jobs`);
      await page.getByRole("link", { name: id, exact: true }).click();
      await page.waitForURL(`${mounted.url}${PREFIX}/jobs/${id}`);
      await page.getByRole("button", { name: "Retry" }).click();
      await page.waitForURL(new RegExp(`${PREFIX}/jobs/${id}\\?flash=`));
      expect(await page.locator(".flash").textContent()).toBe(`retried job ${id}`);
      expect(await page.locator('[data-field="status"]').textContent()).toBe("scheduled");
      await screenshot(page, `mount-${name.replace(":", "-")}`);
      await page.close();
      expect(errors).toEqual([]);
      // The styles loaded under the prefix (CSP allows only the dashboard's own).
      const { rows: after } = await db.pool.query("select status from sidetrack.jobs where id = $1", [id]);
      expect(after[0].status).toBe("scheduled");
      if (name === "node:http") expect(await (await fetch(`${mounted.url}/elsewhere`)).text()).toBe("app 404");
      // A connection that never sends a request, as a browser opens spare ones: closing the
      // application below must not wait for it.
      const accepted = new Promise((resolve) => mounted.server.once("connection", resolve));
      spare = connect(portOf(mounted.server), "127.0.0.1").on("error", () => undefined);
      await accepted;
    } finally {
      await mounted.close();
      spare?.destroy();
    }
  });
});
