export {
  checkEnvelope,
  knownTask,
  pickByCapability,
  recordEnvelope,
  type SendTaskInput,
  sendTask,
  syncFromChat,
  type TaskContext,
  taskRequestText,
  type UpdateTaskInput,
  updateTask,
} from './ops.js';
export { checkUpdate, TASK_TRANSITIONS, TERMINAL } from './rules.js';
export { TASKS_FILE, type Task, type TaskEvent, TaskStore } from './store.js';
