#!/usr/bin/env node
// The `sidetrack` command. Thin: everything lives in cli/, generator/ and runtime/.
import { main } from "../cli/main.js";

process.exitCode = await main(process.argv.slice(2));
