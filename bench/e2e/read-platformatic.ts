// A second bare Node.js client next to kafkajs: @platformatic/kafka (a newer pure-JS client) in its
// own group reads the benchmark topics to the end and does nothing with the records, with the same
// fetch size per partition as agentwatch, committing as it goes (autocommit). It says whether the
// Kafka client bounds agentwatch, and whether switching clients would pay. Prints
// {records, seconds, readSeconds, cpuSeconds}.
//   node dist/bench/e2e/read-platformatic.js <brokers> <topic,topic,…> <expected records>

import { Consumer } from '@platformatic/kafka';

const [brokers, topicList, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);
const consumer = new Consumer({
  groupId: `bench-platformatic-${process.pid}-${Date.now()}`,
  clientId: 'bench-bare-platformatic',
  bootstrapBrokers: brokers!.split(','),
  maxBytesPerPartition: 1_048_576,
  // Read what is there rather than wait for more (kafkajs' default maxWaitTime is 5 s too, but it
  // returns as soon as minBytes are there, as this does).
  minBytes: 1,
});

const cpu = process.cpuUsage();
const started = performance.now();
let records = 0;
let firstAt = 0;
const stream = await consumer.consume({ topics: topicList!.split(','), mode: 'earliest', autocommit: 1_000 });
// Fails instead of waiting forever when the records stop coming (e.g. fewer than expected).
let seen = -1;
const watchdog = setInterval(() => {
  if (records === seen) {
    console.error(
      `the bare @platformatic/kafka consumer made no progress for 60 s: ${records} of ${expected} records read`,
    );
    process.exit(1);
  }
  seen = records;
}, 60_000);
await new Promise<void>((resolve, reject) => {
  stream.on('data', () => {
    if (firstAt === 0) firstAt = performance.now();
    records += 1;
    if (records >= expected) resolve();
  });
  stream.on('error', reject);
});
const ended = performance.now();
const used = process.cpuUsage(cpu);
clearInterval(watchdog);
await stream.close();
await consumer.close();
console.log(
  JSON.stringify({
    records,
    seconds: (ended - started) / 1000,
    readSeconds: (ended - firstAt) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
  }),
);
