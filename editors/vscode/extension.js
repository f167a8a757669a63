// The seqnet extension: starts `seqnet lsp` (the installed seqnet, or seqnet.server.command)
// over stdio and hands it every .seqnet file. Highlighting comes from syntaxes/, not the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("seqnet");
  const [command, ...args] = config.get("server.command", ["seqnet", "lsp"]);
  const server = { command, args, options: { env: process.env } };
  client = new LanguageClient(
    "seqnet",
    "seqnet language server",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "seqnet" }, { scheme: "untitled", language: "seqnet" }],
      initializationOptions: { debounce_ms: config.get("server.debounceMs", 120) },
    },
  );
  context.subscriptions.push(client);
  return client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `seqnet: could not start "${command} ${args.join(" ")}" (${err.message}). ` +
        "Install it with pip install 'seqnet[lsp]', or set seqnet.server.command.",
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
