// Realistic Lambda trigger events, shaped as AWS delivers them (trimmed of fields no rule reads).
const T0 = 1_700_000_000_000; // ms

export const DD_HEADERS = {
  'x-datadog-trace-id': '4110911582297405551',
  'x-datadog-parent-id': '797643193680388254',
  'x-datadog-sampling-priority': '2',
  'x-datadog-tags': '_dd.p.tid=6b118b3700000000,_dd.p.dm=-4',
};

export const apiGatewayRest = (headers: Record<string, string> = DD_HEADERS) => ({
  resource: '/users/{id}',
  path: '/users/42',
  httpMethod: 'GET',
  headers: { Host: 'abc123.execute-api.us-east-1.amazonaws.com', ...headers },
  requestContext: {
    resourcePath: '/users/{id}',
    httpMethod: 'GET',
    path: '/prod/users/42',
    accountId: '123456789012',
    stage: 'prod',
    requestTimeEpoch: T0,
    requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
    apiId: 'abc123',
  },
  body: null,
  isBase64Encoded: false,
});

export const apiGatewayHttp = (headers: Record<string, string> = {}) => ({
  version: '2.0',
  routeKey: 'POST /orders/{id}',
  rawPath: '/orders/7',
  headers: { host: 'x1y2z3.execute-api.us-east-1.amazonaws.com', ...headers },
  requestContext: {
    accountId: '123456789012',
    apiId: 'x1y2z3',
    domainName: 'x1y2z3.execute-api.us-east-1.amazonaws.com',
    stage: '$default',
    http: {
      method: 'POST',
      path: '/orders/7',
      protocol: 'HTTP/1.1',
      sourceIp: '203.0.113.9',
      userAgent: 'curl/8.0',
    },
    requestId: 'JKJaXmPLvHcESHA=',
    routeKey: 'POST /orders/{id}',
    timeEpoch: T0 + 1,
  },
  body: '{"qty":1}',
  isBase64Encoded: false,
});

export const apiGatewayWebsocket = () => ({
  headers: { 'x-datadog-trace-id': '111', 'x-datadog-parent-id': '222' },
  requestContext: {
    routeKey: '$connect',
    eventType: 'CONNECT',
    messageDirection: 'IN',
    connectionId: 'Jv0RZdGjoAMCIrQ=',
    stage: 'dev',
    requestTimeEpoch: T0 + 2,
    requestId: 'Jv0Rf',
    domainName: 'ws1.execute-api.eu-west-1.amazonaws.com',
    apiId: 'ws1',
  },
  isBase64Encoded: false,
});

export const functionUrl = (headers: Record<string, string> = {}) => ({
  version: '2.0',
  routeKey: '$default',
  rawPath: '/items/123',
  headers: { host: 'abcdefg.lambda-url.us-east-1.on.aws', ...headers },
  requestContext: {
    accountId: 'anonymous',
    apiId: 'abcdefg',
    domainName: 'abcdefg.lambda-url.us-east-1.on.aws',
    domainPrefix: 'abcdefg',
    http: {
      method: 'GET',
      path: '/items/123',
      protocol: 'HTTP/1.1',
      sourceIp: '198.51.100.1',
      userAgent: 'agent',
    },
    requestId: 'b5e2f1a0',
    routeKey: '$default',
    stage: '$default',
    timeEpoch: T0 + 3,
  },
  isBase64Encoded: false,
});

export const alb = () => ({
  requestContext: {
    elb: {
      targetGroupArn:
        'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-tg/6d0ecf831eec9f09',
    },
  },
  httpMethod: 'GET',
  path: '/health',
  headers: {
    host: 'lb.example.com',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'dd=s:2;o:rum;t.dm:-5',
  },
  body: '',
  isBase64Encoded: false,
});

const ddJson = (traceId: string, parentId: string) =>
  JSON.stringify({
    'x-datadog-trace-id': traceId,
    'x-datadog-parent-id': parentId,
    'x-datadog-sampling-priority': '1',
  });

export const sqs = () => ({
  Records: [
    {
      messageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
      receiptHandle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a',
      body: 'hello',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(T0 - 500),
        SenderId: 'AIDAIENQZJOLO23YVJ4VO',
        ApproximateFirstReceiveTimestamp: String(T0 - 400),
      },
      messageAttributes: {
        _datadog: { stringValue: ddJson('2684756524522091840', '7431398482019833808'), dataType: 'String' },
      },
      md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-2:123456789012:my-queue',
      awsRegion: 'us-east-2',
    },
  ],
});

export const sqsWithXray = () => {
  const e = sqs();
  const r = e.Records[0]! as Record<string, unknown>;
  r['messageAttributes'] = {};
  (r['attributes'] as Record<string, string>)['AWSTraceHeader'] =
    'Root=1-5759e988-00000000bd862e3fe1be46a9;Parent=53995c3f42cd8ad8;Sampled=1';
  return e;
};

const snsMessage = (withContext: boolean) => ({
  Type: 'Notification',
  MessageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
  TopicArn: 'arn:aws:sns:us-east-1:123456789012:my-topic',
  Subject: 'example subject',
  Message: 'example message',
  Timestamp: new Date(T0 - 1000).toISOString(),
  MessageAttributes: withContext
    ? { _datadog: { Type: 'String', Value: ddJson('1111111111111111111', '2222222222222222222') } }
    : {},
});

export const sns = () => ({
  Records: [
    {
      EventVersion: '1.0',
      EventSubscriptionArn:
        'arn:aws:sns:us-east-1:123456789012:my-topic:c9135db0-26c4-47ec-8998-413945fb5a96',
      EventSource: 'aws:sns',
      Sns: snsMessage(true),
    },
  ],
});

export const snsBinaryContext = () => {
  const e = sns();
  e.Records[0]!.Sns.MessageAttributes = {
    _datadog: {
      Type: 'Binary',
      Value: Buffer.from(ddJson('3333333333333333333', '4444444444444444444')).toString('base64'),
    },
  };
  return e;
};

export const snsThroughSqs = () => {
  const e = sqs();
  const r = e.Records[0]! as Record<string, unknown>;
  r['messageAttributes'] = {};
  r['body'] = JSON.stringify(snsMessage(true));
  r['eventSourceARN'] = 'arn:aws:sqs:us-east-1:123456789012:sns-fed-queue';
  return e;
};

export const eventBridge = () => ({
  version: '0',
  id: 'fdf7c6d8-8b27-4c1d-9a2a-0c7a8b3f2e11',
  'detail-type': 'OrderPlaced',
  source: 'com.example.orders',
  account: '123456789012',
  time: new Date(T0 - 2000).toISOString(),
  region: 'us-east-1',
  resources: [],
  detail: {
    orderId: 'o-1',
    _datadog: {
      'x-datadog-trace-id': '5555555555555555555',
      'x-datadog-parent-id': '6666666666666666666',
      'x-datadog-start-time': String(T0 - 1500),
      'x-datadog-resource-name': 'orders-bus',
    },
  },
});

export const eventBridgeThroughSqs = () => {
  const e = sqs();
  const r = e.Records[0]! as Record<string, unknown>;
  r['messageAttributes'] = {};
  r['body'] = JSON.stringify(eventBridge());
  return e;
};

export const kinesis = () => ({
  Records: [
    {
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'pk-1',
        sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
        data: Buffer.from(
          JSON.stringify({
            hello: 'world',
            _datadog: {
              'x-datadog-trace-id': '7777777777777777777',
              'x-datadog-parent-id': '8888888888888888888',
            },
          }),
        ).toString('base64'),
        approximateArrivalTimestamp: (T0 - 3000) / 1000,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: 'shardId-000000000006:49590338271490256608559692538361571095921575989136588898',
      eventName: 'aws:kinesis:record',
      eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/my-stream',
      awsRegion: 'us-east-1',
    },
  ],
});

export const dynamodb = () => ({
  Records: [
    {
      eventID: 'c4ca4238a0b923820dcc509a6f75849b',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: (T0 - 4000) / 1000,
        Keys: { Id: { N: '101' } },
        NewImage: { Message: { S: 'New item!' }, Id: { N: '101' } },
        SequenceNumber: '4421584500000000017450439091',
        SizeBytes: 26,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN:
        'arn:aws:dynamodb:us-east-1:123456789012:table/ExampleTable/stream/2015-06-27T00:48:05.899',
    },
  ],
});

export const s3 = () => ({
  Records: [
    {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: new Date(T0 - 5000).toISOString(),
      eventName: 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        bucket: { name: 'my-bucket', arn: 'arn:aws:s3:::my-bucket' },
        object: { key: 'uploads/photo.jpg', size: 1024, eTag: 'd41d8cd98f00b204e9800998ecf8427e' },
      },
    },
  ],
});

export const T0_NS = T0 * 1e6;
