package ai.lsntp.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.lsntp.testing.RealFrames;
import ai.lsntp.avro.TemperatureFrame;
import ai.lsntp.schemas.RecordCodec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class PackedFloatsTest {

  @Test
  void littleEndianRoundTrip() {
    float[] v = {273.15f, Float.NaN, 150f, 349.99f};
    ByteBuffer b = PackedFloats.encode(v);
    assertThat(b.remaining()).isEqualTo(16);
    assertThat(b.duplicate().order(ByteOrder.LITTLE_ENDIAN).getFloat(0)).isEqualTo(273.15f);
    assertThat(b.array()[0]).isEqualTo(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(273.15f).array()[0]);
    assertThat(PackedFloats.decode(b)).containsExactly(v);
  }

  @Test
  void aSliceDecodesJustThoseFloatsWhereverTheBufferStands() {
    java.nio.ByteBuffer b = PackedFloats.encode(new float[] {1, 2, 3, 4, 5, 6});
    assertThat(PackedFloats.decode(b, 2, 3)).containsExactly(3f, 4f, 5f);
    b.position(4); // a buffer whose position moved (Avro hands them out so): floats from there
    assertThat(PackedFloats.decode(b, 1, 2)).containsExactly(3f, 4f);
    assertThat(b.position()).isEqualTo(4);
    assertThatThrownBy(() -> PackedFloats.decode(b, 4, 2)).hasMessageContaining("outside a block of 5");
  }

  @Test
  void rejectsAPartialFloat() {
    assertThatThrownBy(() -> PackedFloats.decode(new byte[7])).hasMessageContaining("multiple of 4");
  }

  @Test
  void realFrameDecodesToItsGridInKelvin() throws Exception {
    TemperatureFrame f = RealFrames.uk(1).get(0);
    float[] v = PackedFloats.decode(f.getValues());
    assertThat(v).hasSize(f.getHeight() * f.getWidth());
    for (float x : v) {
      assertThat(x).isBetween(230f, 310f);
    }
    RecordCodec<TemperatureFrame> a = RecordCodec.of(TemperatureFrame.class);
    byte[] bytes = a.encode(f);
    assertThat(a.decode(bytes)).isEqualTo(f);
    byte[] trailing = java.util.Arrays.copyOf(bytes, bytes.length + 1);
    assertThatThrownBy(() -> a.decode(trailing)).hasMessageContaining("trailing");
  }
}
