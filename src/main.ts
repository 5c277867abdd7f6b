// Entry point: `npm start`. Reads the environment, starts the server, and
// shuts down gracefully on SIGTERM/SIGINT (health goes NOT_SERVING first so
// load balancers stop sending, then in-flight calls finish).
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { startServer } from "./server.js";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel);
  if (config.apiKeyGenerated) {
    // Printed once, like a notebook server's token: usable at once, never open.
    logger.warn({ generatedApiKey: config.apiKeys[0] }, "no API_KEYS or API_KEYS_FILE set: generated this key for this run; send it as x-api-key");
  }
  const server = await startServer(config, logger);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    await server.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
