#!/usr/bin/env node
import { main } from '../dist/harness/cli/main.js';
main(process.argv);
