#!/usr/bin/env node
// protoc-gen-openapi: writes an OpenAPI 3.1 document for the Connect JSON
// endpoints of the services in the files buf asks it to generate. It runs in
// `buf generate`, so the API reference is always the contract's own.
//
// Options (buf.gen.yaml `opt`):
//   out=<file>         path of the document under the plugin's out directory
//   secured=<service>  a service whose calls need the API key (repeatable)
//   title=<text>       the document's title
import { createEcmaScriptPlugin, runNodeJs } from "@bufbuild/protoplugin";
import { openApiDocument, type DocumentOptions } from "./openapi/document.js";

const plugin = createEcmaScriptPlugin<DocumentOptions>({
  name: "protoc-gen-openapi",
  version: "v1",
  parseOptions(raw) {
    const options: DocumentOptions = { out: "openapi.json", secured: [], title: "API" };
    for (const { key, value } of raw) {
      if (key === "out") options.out = value;
      else if (key === "secured") options.secured.push(value);
      else if (key === "title") options.title = value;
      else throw new Error(`unknown option ${key}`);
    }
    return options;
  },
  generateTs(schema) {
    const file = schema.generateFile(schema.options.out);
    file.print(`${JSON.stringify(openApiDocument(schema.files, schema.allFiles, schema.options), null, 2)}\n`);
  },
});

runNodeJs(plugin);
