// The Node.js function of the prespawn benchmark (as examples/node/func.js): reads all of stdin
// as JSON {"name": ...} and prints "Hello <name> from Node!".
const fs = require('fs');

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
console.log(`Hello ${name} from Node!`);
