// Entry point: `npm start`. Reads the environment, starts the server, and
// shuts down gracefully on SIGTERM/SIGINT (health goes NOT_SERVING first so
// load balancers stop sending, then in-flight calls finish).
import { isPrimary, runPrimary } from "./cluster.js";
import { ConfigError, loadConfig, type ServerConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel, { sharedOutput: config.workers > 1, format: config.logFormat });
  const primary = isPrimary();
  if (config.apiKeyGenerated && primary) {
    // Printed once, like a notebook server's token: usable at once, never open.
    logger.warn({ generatedApiKey: config.apiKeys.env[0] }, "no API_KEYS or API_KEYS_FILE set: generated this key for this run; send it as x-api-key");
  }
  if (primary && config.workers > 1) {
    // Every process must accept the same key, so the generated one is handed down.
    runPrimary(config.workers, logger, config.apiKeyGenerated ? { API_KEYS: config.apiKeys.env[0] } : {});
    return;
  }
  // Re-read API_KEYS_FILE now (it is also watched). Set before the models load: unhandled, SIGHUP would end the process.
  let reloadKeys = () => {};
  process.on("SIGHUP", () => reloadKeys());
  // The SDK is loaded only when tracing is on.
  const tracing = config.tracing ? (await import("./tracing/from-env.js")).tracingFromEnv() : undefined;
  const server = await startServer(config, logger, { listenAfterLoad: !primary, tracing });
  reloadKeys = () => server.reloadKeys();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    await server.close();
    // The spans of the last calls are sent before the process exits.
    await tracing?.shutdown().catch((e: unknown) => logger.warn({ err: e }, "could not send the last spans"));
    logger.info("stopped");
    logger.flush(() => process.exit(0));
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
