// A second bare Node.js client next to kafkajs: @platformatic/kafka (a newer pure-JS client) in its
// own group reads the benchmark topics to the end and does nothing with the records, with the same
// fetch size per partition as agentwatch, committing as it goes (autocommit). It says whether the
// Kafka client bounds agentwatch, and whether switching clients would pay. Prints
// {records, seconds, readSeconds, cpuSeconds}.
//   node dist/bench/e2e/read-platformatic.js <brokers> <topic,topic,…> <expected records>

import { Consumer } from '@platformatic/kafka';
import { ReadCount } from './bare-reader.js';

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

const count = new ReadCount('bare @platformatic/kafka consumer', expected);
const stream = await consumer.consume({ topics: topicList!.split(','), mode: 'earliest', autocommit: 1_000 });
await count.watch(
  new Promise<void>((resolve, reject) => {
    stream.on('data', () => {
      if (count.add(1)) resolve();
    });
    stream.on('error', reject);
  }),
);
await stream.close();
await consumer.close();
count.print();
