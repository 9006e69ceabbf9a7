/**
 * Network: a VPC over three zones with public and private subnets, NAT from config, flow logs, and
 * VPC endpoints for S3 and ECR (backups and image pulls stay off the NAT gateways).
 */
import { RemovalPolicy, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkStackProps extends StackProps {
  /** The three zones the VPC spans, named so that synth looks nothing up in the account. */
  readonly availabilityZones: readonly string[];
  /** IPv4 CIDR of the VPC, e.g. 10.40.0.0/16. */
  readonly vpcCidr: string;
  /**
   * NAT gateways: 1 (cheaper; one zone's NAT is a single point of egress failure) or one per zone.
   * @default - one per availability zone
   */
  readonly natGateways?: number;
  /**
   * Days the VPC flow logs are kept.
   * @default - two years (the CloudWatch Logs log group default)
   */
  readonly logRetentionDays?: number;
  /**
   * Interface endpoints for ECR's API and registry, so image pulls do not cross the NAT gateways
   * ($0.011 an hour per endpoint and zone: about $48/month for the two over three zones).
   * @default true
   */
  readonly ecrInterfaceEndpoints?: boolean;
}

export class NetworkStack extends Stack {
  private readonly configuredZones: readonly string[];

  /** The configured zones: without this override CDK would look the zones up in the account at synth. */
  public override get availabilityZones(): string[] {
    return [...this.configuredZones];
  }

  public readonly vpc: ec2.Vpc;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    this.configuredZones = props.availabilityZones;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.vpcCidr),
      // Named zones instead of maxAzs: maxAzs would look the zones up in the account at synth time.
      availabilityZones: [...props.availabilityZones],
      natGateways: props.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        // /19 per zone: the VPC CNI gives every pod a VPC address, so private subnets need room.
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 19 },
      ],
      // EKS private endpoint access needs both.
      enableDnsHostnames: true,
      enableDnsSupport: true,
      restrictDefaultSecurityGroup: true,
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.logRetentionDays as logs.RetentionDays | undefined,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    // Traffic that need not cross the NAT gateways (charged per GB): S3 (backups, and ECR's image
    // layers, which ECR serves from S3) through a gateway endpoint, free; ECR's API and registry
    // through interface endpoints, so image pulls do not leave the VPC either.
    this.vpc.addGatewayEndpoint('S3Endpoint', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }] });
    const interfaceEndpoints = props.ecrInterfaceEndpoints === false ? [] : ([
      ['EcrApiEndpoint', ec2.InterfaceVpcEndpointAwsService.ECR],
      ['EcrDockerEndpoint', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER],
    ] as const);
    for (const [id, service] of interfaceEndpoints) {
      this.vpc.addInterfaceEndpoint(id, { service, subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }, privateDnsEnabled: true });
    }

    // Subnet discovery for the AWS Load Balancer Controller and Service type LoadBalancer.
    for (const subnet of this.vpc.publicSubnets) Tags.of(subnet).add('kubernetes.io/role/elb', '1');
    for (const subnet of this.vpc.privateSubnets) Tags.of(subnet).add('kubernetes.io/role/internal-elb', '1');
  }
}
