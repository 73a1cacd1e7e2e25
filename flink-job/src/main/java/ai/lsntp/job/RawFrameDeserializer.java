package ai.lsntp.job;

import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** Never fails: hands every record on as bytes, so a bad one becomes a reject, not a job failure. */
public class RawFrameDeserializer implements KafkaRecordDeserializationSchema<RawFrame> {
  private static final long serialVersionUID = 1L;

  @Override
  public void deserialize(ConsumerRecord<byte[], byte[]> r, Collector<RawFrame> out) {
    out.collect(new RawFrame(r.key(), r.value(), r.topic(), r.partition(), r.offset(), r.timestamp()));
  }

  @Override
  public TypeInformation<RawFrame> getProducedType() {
    return TypeInformation.of(RawFrame.class);
  }
}
