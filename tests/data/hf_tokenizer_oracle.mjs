// Oracle for hf_tokenizer_test: encodes strings with the pure-JS `@huggingface/tokenizers` package.
// Usage: node hf_tokenizer_oracle.mjs <package dir> <tokenizer.json[.gz]> <in> <out>
// <in>: one string per line as "x" + hex of its bytes (invalid UTF-8 allowed: Node decodes it as WHATWG
// does, each maximal invalid subsequence -> U+FFFD). <out>: one line of space-separated ids per string.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pathToFileURL } from "node:url";

const [pkgDir, tokPath, inPath, outPath] = process.argv.slice(2);
const { Tokenizer } = await import(pathToFileURL(path.join(pkgDir, "dist", "tokenizers.mjs")).href);
let raw = fs.readFileSync(tokPath);
if (raw[0] === 0x1f && raw[1] === 0x8b) raw = zlib.gunzipSync(raw);
const tokenizer = new Tokenizer(JSON.parse(raw.toString("utf8")), {});
const lines = fs.readFileSync(inPath, "utf8").split("\n").filter((l) => l.startsWith("x"));
const out = lines.map((l) => {
  const text = Buffer.from(l.slice(1), "hex").toString("utf8");
  return tokenizer.encode(text, { add_special_tokens: false }).ids.join(" ");
});
fs.writeFileSync(outPath, out.join("\n") + "\n");
