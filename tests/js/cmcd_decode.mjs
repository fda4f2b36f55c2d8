// Decodes kino's CMCD output with @svta/cml-cmcd (the library hls.js and
// dash.js build on), for tests/cmcd.rs. Reads a JSON array of
// {"query": "CMCD=…", "headers": "Name: value\r\n…"} on stdin and prints
// a JSON array of {"query": {…}, "headers": {…}}, each the decoded keys.
import { fromCmcdHeaders, fromCmcdQuery } from "@svta/cml-cmcd";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const cases = JSON.parse(input);
const out = cases.map(({ query, headers }) => {
  const fields = {};
  for (const line of headers.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(": ");
    if (colon < 0) throw new Error(`not a header line: ${JSON.stringify(line)}`);
    fields[line.slice(0, colon)] = line.slice(colon + 2);
  }
  if (!headers.endsWith("\r\n") && headers !== "") throw new Error("headers must end in CRLF");
  return { query: fromCmcdQuery(query), headers: fromCmcdHeaders(fields) };
});
process.stdout.write(JSON.stringify(out));
