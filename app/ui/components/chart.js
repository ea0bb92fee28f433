import EChart from "nicegui-echart-component/echart.js";

export default {
  ...EChart,
  async mounted() {
    await EChart.mounted.call(this);
    if (this.removed) {
      this.chart.dispose();
      this.resizeObserver.disconnect();
    }
  },
  beforeUnmount() {
    this.removed = true;
    this.chart?.dispose();
  },
  methods: {
    ...EChart.methods,
    update_chart() {
      if (!this.removed) EChart.methods.update_chart.call(this);
    },
  },
};
