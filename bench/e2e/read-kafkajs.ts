// The baseline: a bare kafkajs consumer in its own group that reads the benchmark topics to the end
// and does nothing with the records (eachBatch, offsets resolved and committed as kafkajs does by
// default), with the fetch settings agentwatch uses. Prints {records, seconds, cpuSeconds}.
//   node dist/bench/e2e/read-kafkajs.js <brokers> <topic,topic,…> <expected records> <partitions concurrently>

import { Kafka, logLevel } from 'kafkajs';

const [brokers, topicList, expectedText, concurrentlyText] = process.argv.slice(2);
const expected = Number(expectedText);
const kafka = new Kafka({ clientId: 'bench-bare-kafkajs', brokers: brokers!.split(','), logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({
  groupId: `bench-bare-${process.pid}-${Date.now()}`,
  maxBytesPerPartition: 1_048_576,
  allowAutoTopicCreation: false,
});

const cpu = process.cpuUsage();
const started = performance.now();
let records = 0;
let firstAt = 0;
const done = new Promise<void>((resolve) => {
  void (async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: topicList!.split(','), fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: Number(concurrentlyText),
      eachBatch: async ({ batch }) => {
        if (firstAt === 0) firstAt = performance.now();
        records += batch.messages.length;
        if (records >= expected) resolve();
      },
    });
  })();
});
// Fails instead of waiting forever when the records stop coming (e.g. fewer than expected).
let seen = -1;
const watchdog = setInterval(() => {
  if (records === seen) {
    console.error(`the bare kafkajs consumer made no progress for 60 s: ${records} of ${expected} records read`);
    process.exit(1);
  }
  seen = records;
}, 60_000);
await done;
clearInterval(watchdog);
const ended = performance.now();
const used = process.cpuUsage(cpu);
await consumer.disconnect();
console.log(
  JSON.stringify({
    records,
    seconds: (ended - started) / 1000,
    readSeconds: (ended - firstAt) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
  }),
);
