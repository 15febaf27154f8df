const ms = require("ms");
console.log(`Hello from node; a day is ${ms("1d")} ms`);
