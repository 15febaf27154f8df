const ms = require("ms");
console.log(`web: an hour is ${ms("1h")} ms`);
