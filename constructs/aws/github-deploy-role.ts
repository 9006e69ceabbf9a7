/**
 * IAM roles that GitHub Actions jobs of one repository assume through OIDC, with no stored AWS keys.
 * Each role trusts exactly one subject, `repo:<owner>/<repo>:environment:<environment>`, and the
 * audience `sts.amazonaws.com`. GitHub puts that subject in a job's token only when the job runs in
 * that GitHub environment, so the environment's protection rules (required reviewers, the branches
 * allowed to deploy) stand in front of the role. A job without an environment carries
 * `repo:<owner>/<repo>:ref:<ref>` instead and is refused, on main too; so are pull requests, forks
 * and other repositories.
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

/** The role the deploy job assumes, and the account's GitHub OIDC provider (created or imported). */
export class GitHubDeployRole extends Construct {
  public readonly role: iam.Role;
  public readonly providerArn: string;
  /** The one OIDC subject the role trusts. */
  public readonly subject: string;

  constructor(scope: Construct, id: string, props: GitHubDeployRoleProps) {
    super(scope, id);
    const trust = environmentTrust('GitHubDeployRole', props.repository, props.environment);

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

    this.subject = trust.subject;
    this.role = new iam.Role(this, 'Role', {
      description: `Assumed by GitHub Actions in ${props.repository}, environment ${props.environment} only, to deploy`,
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      assumedBy: trust.principal(this.providerArn),
    });
  }
}

export interface GitHubReadRoleProps {
  /** "owner/repo". */
  readonly repository: string;
  /** GitHub environment whose jobs may assume the role; not the deploy environment. */
  readonly environment: string;
  /** The account's GitHub OIDC provider (GitHubDeployRole.providerArn). */
  readonly providerArn: string;
  /**
   * Longest session.
   * @default one hour
   */
  readonly maxSessionDuration?: Duration;
}

/**
 * A role for the jobs that only look: `cdk diff` before a deploy, the rollout check after it. It is
 * trusted through an environment of its own, so that it can run before anyone approves the deploy
 * environment; what it may do is granted by the stacks that use it, and none of it writes.
 */
export class GitHubReadRole extends Construct {
  public readonly role: iam.Role;
  /** The one OIDC subject the role trusts. */
  public readonly subject: string;

  constructor(scope: Construct, id: string, props: GitHubReadRoleProps) {
    super(scope, id);
    const trust = environmentTrust('GitHubReadRole', props.repository, props.environment);
    this.subject = trust.subject;
    this.role = new iam.Role(this, 'Role', {
      description: `Assumed by GitHub Actions in ${props.repository}, environment ${props.environment} only, to read (cdk diff, rollout check)`,
      maxSessionDuration: props.maxSessionDuration ?? Duration.hours(1),
      assumedBy: trust.principal(props.providerArn),
    });
  }
}

/** The subject of one repository's jobs in one environment, and the principal that trusts only it. */
function environmentTrust(
  construct: string,
  repository: string,
  environment: string,
): { readonly subject: string; readonly principal: (providerArn: string) => iam.WebIdentityPrincipal } {
  if (!/^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/.test(repository)) {
    throw new Error(`${construct}: repository is ${JSON.stringify(repository)}; use "owner/repo" with no wildcards.`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(environment)) {
    throw new Error(`${construct}: environment is ${JSON.stringify(environment)}; use a GitHub environment name ([A-Za-z0-9_-]).`);
  }
  const subject = `repo:${repository}:environment:${environment}`;
  return {
    subject,
    // One exact subject under StringEquals, no wildcard: StringLike would let other environments,
    // branches or pull requests in.
    principal: (providerArn) =>
      new iam.WebIdentityPrincipal(providerArn, {
        StringEquals: { [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com', [`${GITHUB_OIDC_HOST}:sub`]: subject },
      }),
  };
}
