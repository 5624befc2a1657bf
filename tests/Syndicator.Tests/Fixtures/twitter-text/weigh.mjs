// Reads a JSON array of post texts on stdin and prints, for each, what X's own twitter-text library says:
// [{"weightedLength": N, "valid": true|false, "urls": ["..."]}, ...]. Usage: node weigh.mjs PACKAGE_HOME
import { createRequire } from "node:module";
import path from "node:path";

const home = process.argv[2];
const require = createRequire(path.join(home, "package.json"));
const twitter = require("twitter-text");

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const result = JSON.parse(input).map((text) => {
  const parsed = twitter.parseTweet(text);
  return {
    weightedLength: parsed.weightedLength,
    valid: parsed.valid,
    urls: twitter.extractUrls(text),
  };
});
process.stdout.write(JSON.stringify(result));
