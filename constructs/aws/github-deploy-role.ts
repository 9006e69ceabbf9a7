/**
 * An IAM role that GitHub Actions workflows of one repository can assume through OIDC, with no stored
 * AWS keys. The trust policy pins the audience and the subject (repository, and either the main branch
 * or one GitHub environment), so forks, other repositories and other branches cannot assume it.
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

export interface GitHubDeployRoleProps {
  /** "owner/repo". */
  readonly repository: string;
  /** GitHub environment whose jobs may assume the role (subject `repo:<repo>:environment:<env>`). */
  readonly environment: string;
  /**
   * Create the account's GitHub OIDC provider here. Only one provider per URL may exist in an
   * account, so when several stacks share an account exactly one creates it and the others import it.
   * @default true
   */
  readonly createProvider?: boolean;
  /**
   * Longest session.
   * @default one hour
   */
  readonly maxSessionDuration?: Duration;
}

export class GitHubDeployRole extends Construct {
  public readonly role: iam.Role;
  public readonly providerArn: string;
  /** The OIDC subjects the role trusts. */
  public readonly subjects: readonly string[];

  constructor(scope: Construct, id: string, props: GitHubDeployRoleProps) {
    super(scope, id);
    if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(props.repository)) {
      throw new Error(`GitHubDeployRole: repository is ${JSON.stringify(props.repository)}; use "owner/repo" with no wildcards.`);
    }
    if (!/^[A-Za-z0-9_-]+$/.test(props.environment)) {
      throw new Error(`GitHubDeployRole: environment is ${JSON.stringify(props.environment)}; use a GitHub environment name.`);
    }

    if (props.createProvider ?? true) {
      // The native resource (AWS::IAM::OIDCProvider), not the Lambda-backed one: nothing to run, and
      // IAM no longer needs thumbprints for this issuer.
      const provider = new iam.OidcProviderNative(this, 'Provider', {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIds: ['sts.amazonaws.com'],
      });
      this.providerArn = provider.oidcProviderArn;
    } else {
      const arn = Stack.of(this).formatArn({
        service: 'iam',
        region: '',
        resource: 'oidc-provider',
        resourceName: GITHUB_OIDC_HOST,
        arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      });
      this.providerArn = iam.OidcProviderNative.fromOidcProviderArn(this, 'Provider', arn).oidcProviderArn;
    }

    this.subjects = [`repo:${props.repository}:environment:${props.environment}`, `repo:${props.repository}:ref:refs/heads/main`];
    this.role = new iam.Role(this, 'Role', {
      description: `Assumed by GitHub Actions in ${props.repository} (environment ${props.environment} or main) to deploy`,
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(this.providerArn, {
        // Exact subjects, no wildcards: pull requests, forks and other branches carry different
        // subjects and are refused. A list under StringEquals matches any one of its values.
        StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com', [`${GITHUB_OIDC_HOST}:sub`]: [...this.subjects] },
      }),
    });
  }
}
