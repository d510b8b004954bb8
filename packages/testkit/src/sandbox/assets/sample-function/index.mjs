// A sample function for the demo: logs, waits a little, answers.
export const handler = async (event, context) => {
  console.log('hello from', context.functionName, 'request', context.awsRequestId);
  await new Promise((resolve) => setTimeout(resolve, 20));
  return {
    statusCode: 200,
    body: JSON.stringify({ echo: event, remainingMs: context.getRemainingTimeInMillis() }),
  };
};
