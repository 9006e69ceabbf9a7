#!/usr/bin/env node
/** CDK app (cdk.json "app"): reads the deployment config once and adds the stacks. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createStacks } from '../lib/app';
import { ConfigError, loadConfig } from '../lib/config';

const app = new App();
try {
  const config = loadConfig({ context: (key) => app.node.tryGetContext(key), env: process.env });
  createStacks(app, config);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // A config mistake is the user's to fix: print the message alone, not a stack trace.
  console.error(error.message);
  process.exit(1);
}
// The same checks the tests run; an unacknowledged finding is an error and fails synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
