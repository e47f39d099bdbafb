import { planAllocation, initBackend } from "@triadapt/triadapt";
console.log(planAllocation({ matrices: 72, initRank: 1, refRank: 8, deltaRank: 4, initWarmup: 100, interval: 100, totalSteps: 3900, threshold: "linear" }).length);
console.log((await initBackend()).summary);
