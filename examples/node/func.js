// Hello World for Fn, as a plain program: the request body arrives on stdin, whatever is
// printed on stdout is the response. hotwrap runs it once per call in a hot container.
//
// Set-up comes before the first read of stdin: with HOTWRAP_PRESPAWN=1 that part runs while the
// container idles, before the call arrives. Node builds process.stdout on first use, which costs
// a few milliseconds for a pipe, so it is taken here rather than when the answer is ready.
const fs = require('fs');
const out = process.stdout;

const input = fs.readFileSync(0, 'utf8').trim();
let name = 'World';
if (input.length > 0) {
  try {
    const parsed = JSON.parse(input);
    if (parsed && typeof parsed.name === 'string' && parsed.name.length > 0) name = parsed.name;
  } catch (e) {
    name = input; // not JSON: the whole body is the name
  }
}
out.write(`Hello ${name} from Node!\n`);
