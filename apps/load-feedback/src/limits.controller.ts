/** `GET /v1/limits`: the multipliers in force, why each last moved, the controller's inputs and the reputation factors. */
import { Controller, Get, Inject } from '@nestjs/common';
import { ProblemException, RequireScope, type Operation } from '@access/platform-http';
import { LoadFeedbackService } from '@access/load-feedback-application';

@Controller('v1/limits')
export class LimitsController {
  constructor(@Inject(LoadFeedbackService) private readonly service: LoadFeedbackService) {}

  @Get()
  @RequireScope('ledger:read')
  limits() {
    const view = this.service.view();
    if (view === null) throw ProblemException.of(503, 'LOAD_FEEDBACK.NOT_READY', 'The controller has not resumed from the published multipliers yet.');
    return view;
  }
}

export const limitsOperation: Operation = {
  method: 'get',
  path: '/v1/limits',
  summary: 'Multipliers in force per (model, plan, priority) with the reason and inputs of their last change, the newest load samples, and non-neutral reputation factors',
  scope: 'ledger:read',
  responses: { 200: { description: 'The controller state' }, 503: { description: 'Not resumed yet' } },
};
