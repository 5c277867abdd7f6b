// The backstop behind the contract's bounds: an answer never carries a
// non-finite number. A model that yields one is our fault: INTERNAL, no
// detail to the client, and the place logged under the call's request id.
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applications, VALID } from "./support/applications.js";
import { nonFiniteModel, repositoryWithModel, type TempRepo } from "./support/model-repos.js";
import { PROTOCOL_CLIENTS, type ProtocolClient } from "./support/protocol-clients.js";
import { API_KEY, startTestServer, type TestServer } from "./support/test-server.js";

const LEVEL_ERROR = 50;

describe("a model answering NaN or Infinity", () => {
  let repo: TempRepo;
  let server: TestServer;
  let clients: ProtocolClient[];

  beforeAll(async () => {
    repo = repositoryWithModel(nonFiniteModel(), "pred-non-finite-");
    server = await startTestServer({ MODEL_REPOSITORY: repo.dir });
    clients = PROTOCOL_CLIENTS.map((f) => f.make(server.baseUrl));
  });
  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await server?.close();
    repo?.remove();
  });

  const headers = (id: string) => ({ "x-api-key": API_KEY, "x-request-id": id });
  const internalLog = (id: string) => server.logs.find((l) => l.requestId === id && l.level === LEVEL_ERROR && l.msg === "internal error");

  it("answers finite outputs as usual", async () => {
    const r = await clients[0].predict({ ...VALID, creditScore: 720 }, { headers: headers("finite-1") });
    expect(r.ok).toBe(true);
  });

  for (const [what, creditScore] of [
    ["NaN probability", 700],
    ["infinite contribution", 701],
  ] as const) {
    it(`turns a ${what} into INTERNAL on every protocol, logged with the request id`, async () => {
      for (const [k, client] of clients.entries()) {
        const id = `non-finite-${creditScore}-${k}`;
        const r = await client.predict({ ...VALID, creditScore }, { headers: headers(id) });
        if (r.ok) throw new Error(`${client.name}: answered ${JSON.stringify(r.message.approvalProbability)}`);
        expect(r.code, client.name).toBe(Code.Internal);
        expect(r.message, client.name).toBe("inference failed");
        const line = internalLog(id);
        expect(line, client.name).toBeDefined();
        expect(JSON.stringify(line)).toMatch(/non-finite output \(row 0/);
      }
    });
  }

  it("fails a whole batch when one row is not finite", async () => {
    const inputs = applications(5).map((a) => ({ ...a, creditScore: 720 }));
    inputs[3] = { ...inputs[3], creditScore: 700 };
    const r = await clients[0].predictBatch({ inputs }, { headers: headers("non-finite-batch") });
    if (r.ok) throw new Error("expected INTERNAL");
    expect(r.code).toBe(Code.Internal);
    expect(JSON.stringify(internalLog("non-finite-batch"))).toMatch(/row 3: approval_probability NaN/);
  });
});
