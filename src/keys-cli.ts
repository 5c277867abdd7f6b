// `npm run keys -- add|revoke|list` (see key-commands.ts). In src/ so the
// image has it too: `node dist/src/keys-cli.js list --file /keys/api-keys.json`.
import { runKeysCommand } from "./key-commands.js";

process.exitCode = runKeysCommand(process.argv.slice(2), process.env, {
  line: (t) => process.stdout.write(`${t}\n`),
  note: (t) => process.stderr.write(`${t}\n`),
});
