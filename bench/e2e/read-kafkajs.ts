// The baseline: a bare kafkajs consumer in its own group that reads the benchmark topics to the end
// and does nothing with the records (eachBatch, offsets resolved and committed as kafkajs does by
// default), with the fetch settings agentwatch uses. Prints {records, seconds, cpuSeconds}.
//   node dist/bench/e2e/read-kafkajs.js <brokers> <topic,topic,…> <expected records> <partitions concurrently>

import { Kafka, logLevel } from 'kafkajs';
import { ReadCount } from './bare-reader.js';

const [brokers, topicList, expectedText, concurrentlyText] = process.argv.slice(2);
const expected = Number(expectedText);
const kafka = new Kafka({ clientId: 'bench-bare-kafkajs', brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({
  groupId: `bench-bare-${process.pid}-${Date.now()}`,
  maxBytesPerPartition: 1_048_576,
  allowAutoTopicCreation: false,
});

const count = new ReadCount('bare kafkajs consumer', expected);
const done = new Promise<void>((resolve) => {
  void (async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: topicList!.split(','), fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: Number(concurrentlyText),
      eachBatch: async ({ batch }) => {
        if (count.add(batch.messages.length)) resolve();
      },
    });
  })();
});
await count.watch(done);
await consumer.disconnect();
count.print();
