#!/usr/bin/env node
import { main } from '../dist/harness/cli.js';
main(process.argv);
